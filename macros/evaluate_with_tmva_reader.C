// Evaluate a TMVA weight file with ROOT's own TMVA::Reader on a tree and write the responses as a
// friend tree, so that tmvacompat's Model.evaluate can be compared with TMVA event by event
// (see compare_with_tmva.py next to this file).
//
// Usage (ROOT 6):
//   root -l -b -q 'evaluate_with_tmva_reader.C("model.weights.xml", "input.root", "TreeS", "tmva_out.root")'
//
// The variables and spectators are taken from the weight file itself (<Variables>/<Spectators>, attribute
// Expression) and computed per entry with TTreeFormula, as TMVA's DataLoader does. The output file holds a
// tree (default name "tmva") with as many entries as the input tree and the branches
//   Classification: response/F               (Reader::EvaluateMVA; -999 for NaN inputs)
//   Regression:     response_<k>/F per target (Reader::EvaluateRegression)
//   Multiclass:     response_<k>/F per class  (Reader::EvaluateMulticlass)
// Attach it with  tree->AddFriend("tmva", "tmva_out.root").
//
// Weight files holding tmvacompat's extension layers (ConvTransposeLayer, AddLayer, ConcatLayer) cannot
// be booked by TMVA::Reader.

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "TFile.h"
#include "TString.h"
#include "TTree.h"
#include "TTreeFormula.h"
#include "TXMLEngine.h"
#include "TMVA/Reader.h"

namespace {

struct WeightFileInfo {
   std::string method;       // "DL::title"
   std::string analysisType; // Classification, Regression, Multiclass
   std::vector<std::string> variables;
   std::vector<std::string> spectators;
   int nClasses = 0;
   int nTargets = 0;
};

// Read what the Reader needs from the weight file with ROOT's XML engine.
bool ReadWeightFileInfo(const char *path, WeightFileInfo &info)
{
   TXMLEngine xml;
   XMLDocPointer_t doc = xml.ParseFile(path);
   if (!doc) {
      std::cerr << "cannot parse weight file " << path << std::endl;
      return false;
   }
   XMLNodePointer_t root = xml.DocGetRootElement(doc);
   if (!root || std::string(xml.GetNodeName(root)) != "MethodSetup") {
      std::cerr << path << " is not a TMVA weight file (no <MethodSetup>)" << std::endl;
      xml.FreeDoc(doc);
      return false;
   }
   if (const char *m = xml.GetAttr(root, "Method"))
      info.method = m;
   info.analysisType = "Classification";
   for (XMLNodePointer_t node = xml.GetChild(root); node; node = xml.GetNext(node)) {
      const std::string name = xml.GetNodeName(node);
      if (name == "GeneralInfo") {
         for (XMLNodePointer_t item = xml.GetChild(node); item; item = xml.GetNext(item)) {
            const char *key = xml.GetAttr(item, "name");
            const char *value = xml.GetAttr(item, "value");
            if (key && value && std::string(key) == "AnalysisType")
               info.analysisType = value;
         }
      } else if (name == "Variables" || name == "Spectators") {
         auto &list = (name == "Variables") ? info.variables : info.spectators;
         for (XMLNodePointer_t item = xml.GetChild(node); item; item = xml.GetNext(item)) {
            if (const char *expr = xml.GetAttr(item, "Expression"))
               list.emplace_back(expr);
         }
      } else if (name == "Classes") {
         if (const char *n = xml.GetAttr(node, "NClass"))
            info.nClasses = std::atoi(n);
      } else if (name == "Targets") {
         if (const char *n = xml.GetAttr(node, "NTrgt"))
            info.nTargets = std::atoi(n);
      }
   }
   xml.FreeDoc(doc);
   return !info.variables.empty();
}

} // namespace

int evaluate_with_tmva_reader(const char *weightFile, const char *inputFile, const char *treeName,
                              const char *outputFile, const char *outputTree = "tmva",
                              const char *methodTag = "tmvacompat")
{
   WeightFileInfo info;
   if (!ReadWeightFileInfo(weightFile, info))
      return 1;

   std::unique_ptr<TFile> in(TFile::Open(inputFile, "READ"));
   if (!in || in->IsZombie()) {
      std::cerr << "cannot open " << inputFile << std::endl;
      return 2;
   }
   TTree *tree = nullptr;
   in->GetObject(treeName, tree);
   if (!tree) {
      std::cerr << "no tree " << treeName << " in " << inputFile << std::endl;
      return 3;
   }

   TMVA::Reader reader("!Color:Silent");
   // Float_t buffers, one per variable / spectator, bound before BookMVA as TMVA requires
   std::vector<Float_t> varBuffers(info.variables.size(), 0.f);
   std::vector<Float_t> specBuffers(info.spectators.size(), 0.f);
   std::vector<std::unique_ptr<TTreeFormula>> varFormulas;
   for (size_t i = 0; i < info.variables.size(); ++i) {
      reader.AddVariable(info.variables[i].c_str(), &varBuffers[i]);
      varFormulas.emplace_back(new TTreeFormula(Form("var%zu", i), info.variables[i].c_str(), tree));
      if (varFormulas.back()->GetNdim() == 0) {
         std::cerr << "cannot compute variable '" << info.variables[i] << "' from tree " << treeName << std::endl;
         return 4;
      }
   }
   for (size_t i = 0; i < info.spectators.size(); ++i)
      reader.AddSpectator(info.spectators[i].c_str(), &specBuffers[i]);
   if (!reader.BookMVA(methodTag, weightFile)) {
      std::cerr << "TMVA::Reader could not book " << weightFile << std::endl;
      return 5;
   }

   const bool multiclass = info.analysisType == "Multiclass";
   const bool regression = info.analysisType == "Regression";
   const int nOut = multiclass ? info.nClasses : (regression ? std::max(1, info.nTargets) : 1);
   std::vector<Float_t> outputs(nOut, 0.f);

   std::unique_ptr<TFile> out(TFile::Open(outputFile, "RECREATE"));
   if (!out || out->IsZombie()) {
      std::cerr << "cannot create " << outputFile << std::endl;
      return 6;
   }
   // created in the output file (gDirectory), which owns it and deletes it on Close()
   auto *friendTree = new TTree(outputTree, Form("TMVA::Reader responses of %s", info.method.c_str()));
   if (multiclass || regression) {
      for (int k = 0; k < nOut; ++k)
         friendTree->Branch(Form("response_%d", k), &outputs[k], Form("response_%d/F", k));
   } else {
      friendTree->Branch("response", &outputs[0], "response/F");
   }

   const Long64_t nEntries = tree->GetEntries();
   for (Long64_t entry = 0; entry < nEntries; ++entry) {
      tree->LoadTree(entry);
      for (size_t i = 0; i < varFormulas.size(); ++i) {
         varFormulas[i]->GetNdata(); // loads the branches the formula reads (array sizes too)
         varBuffers[i] = static_cast<Float_t>(varFormulas[i]->EvalInstance(0));
      }
      if (multiclass) {
         const std::vector<Float_t> &values = reader.EvaluateMulticlass(methodTag);
         for (int k = 0; k < nOut && k < static_cast<int>(values.size()); ++k)
            outputs[k] = values[k];
      } else if (regression) {
         const std::vector<Float_t> &values = reader.EvaluateRegression(methodTag);
         for (int k = 0; k < nOut && k < static_cast<int>(values.size()); ++k)
            outputs[k] = values[k];
      } else {
         outputs[0] = static_cast<Float_t>(reader.EvaluateMVA(methodTag));
      }
      friendTree->Fill();
   }
   out->cd();
   friendTree->Write();
   out->Close();
   std::cout << "wrote " << nEntries << " responses of " << info.method << " (" << info.analysisType << ") to "
             << outputFile << ":" << outputTree << std::endl;
   return 0;
}
